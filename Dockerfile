# landrelease: the application image. docker-compose.yml pairs it with a PostGIS server.
#
#   docker compose run --rm app demo        (the default command)
#   docker compose run --rm app --help
#
# The database is LANDRELEASE_DATABASE_URL (set by docker-compose.yml): the image contains no
# PostgreSQL server of its own. Generated maps go to /app/maps (a volume in docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LANDRELEASE_GIS_DATA=/app/gis_data \
    LANDRELEASE_ETL=/app/etl

WORKDIR /app

# The geospatial dependencies (shapely, pyproj, pyogrio, fiona, rasterio, psycopg[binary]) ship
# manylinux wheels with GEOS/PROJ/GDAL/libpq inside, so no system packages are needed.
# The installed package does not carry the repository's data folders: gis_data/ (boundaries,
# used by the demo) and etl/ (import profiles) stay in /app, where the two variables point.
COPY . /app
RUN pip install . \
    && useradd --create-home --uid 1000 landrelease \
    && mkdir -p /app/maps \
    && chown landrelease:landrelease /app/maps

# Unprivileged at run time; uid 1000 is usually the host user owning ./maps on Linux.
USER landrelease

ENTRYPOINT ["landrelease"]
CMD ["demo"]
