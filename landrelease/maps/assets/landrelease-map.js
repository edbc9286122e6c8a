/*
 * landrelease contamination maps: the page side of landrelease/maps/build.py.
 * Part of landrelease (AGPL-3.0-or-later); written for this project, no third-party code.
 *
 * Why it exists: a national map holds ~100,000 hazards and as many released pieces. Drawing
 * them all as Leaflet layers costs seconds at load and on every pan, and GeoJSON of them is
 * hundreds of megabytes. So the page carries compact encoded geometry (see encode.py),
 * decodes it once into typed arrays, and creates Leaflet polygons (on one canvas) only for
 * the features inside the view at working zoom. Below that zoom it shows the regional
 * choropleth and one dot per hazard, drawn straight onto a canvas.
 *
 * Safety: every value from the data is put into the page with textContent or as a
 * number; nothing from the data is ever parsed as HTML or evaluated (no innerHTML, no
 * template strings, no eval).
 */
(function () {
  'use strict';

  // ---- decoding (mirror of landrelease/maps/encode.py) ------------------------------------
  var ALPHABET = '';
  for (var code = 0x21; code < 0x7f; code++) {
    var ch = String.fromCharCode(code);
    if ('"\\<>'.indexOf(ch) < 0) ALPHABET += ch;
  }
  var N_TERMINAL = 78; // as TERMINAL in encode.py
  var N_CONTINUATION = ALPHABET.length - N_TERMINAL;
  var DIGIT = new Int16Array(128).fill(-32768);
  for (var k = 0; k < ALPHABET.length; k++) {
    DIGIT[ALPHABET.charCodeAt(k)] = k < N_TERMINAL ? k : -(k - N_TERMINAL + 1);
  }

  /** Non-negative integers from mixed-radix digits. */
  function decodeValues(text) {
    var out = new Float64Array(text.length);
    var n = 0, value = 0, scale = 1;
    for (var i = 0; i < text.length; i++) {
      var d = DIGIT[text.charCodeAt(i)];
      if (d === -32768) throw new Error('landrelease: bad digit in encoded geometry');
      if (d < 0) {
        value += (-d - 1) * scale;
        scale *= N_CONTINUATION;
      } else {
        out[n++] = value + d * scale;
        value = 0;
        scale = 1;
      }
    }
    return out.subarray(0, n);
  }

  /** Features: offsets into parts, rings, vertices; coordinates; bounding boxes. */
  function decodeGeometry(geom, count) {
    var s = decodeValues(geom.s);
    var c = decodeValues(geom.c);
    var featStart = new Int32Array(count + 1);
    var nParts = 0;
    for (var f = 0; f < count; f++) { featStart[f] = nParts; nParts += s[f]; }
    featStart[count] = nParts;
    var partStart = new Int32Array(nParts + 1);
    var nRings = 0;
    for (var p = 0; p < nParts; p++) { partStart[p] = nRings; nRings += s[count + p]; }
    partStart[nParts] = nRings;
    var ringStart = new Int32Array(nRings + 1);
    var nVertices = 0;
    for (var r = 0; r < nRings; r++) { ringStart[r] = nVertices; nVertices += s[count + nParts + r]; }
    ringStart[nRings] = nVertices;
    var coords = new Float64Array(2 * nVertices);
    var x = 0, y = 0, step = geom.step;
    for (var v = 0; v < nVertices; v++) {
      var dx = c[2 * v], dy = c[2 * v + 1];
      x += dx % 2 === 0 ? dx / 2 : -(dx + 1) / 2;
      y += dy % 2 === 0 ? dy / 2 : -(dy + 1) / 2;
      coords[2 * v] = x * step;
      coords[2 * v + 1] = y * step;
    }
    var bbox = new Float64Array(4 * count);
    for (f = 0; f < count; f++) {
      var lo = ringStart[partStart[featStart[f]]], hi = ringStart[partStart[featStart[f + 1]]];
      var w = Infinity, so = Infinity, e = -Infinity, no = -Infinity;
      for (v = lo; v < hi; v++) {
        var lng = coords[2 * v], lat = coords[2 * v + 1];
        if (lng < w) w = lng;
        if (lng > e) e = lng;
        if (lat < so) so = lat;
        if (lat > no) no = lat;
      }
      bbox[4 * f] = w; bbox[4 * f + 1] = so; bbox[4 * f + 2] = e; bbox[4 * f + 3] = no;
    }
    return {
      count: count, featStart: featStart, partStart: partStart, ringStart: ringStart,
      coords: coords, bbox: bbox
    };
  }

  /** Leaflet latlngs (polygon or multipolygon) of feature f. */
  function latLngs(g, f) {
    var polygons = [];
    for (var p = g.featStart[f]; p < g.featStart[f + 1]; p++) {
      var rings = [];
      for (var r = g.partStart[p]; r < g.partStart[p + 1]; r++) {
        var ring = [];
        for (var v = g.ringStart[r]; v < g.ringStart[r + 1]; v++) {
          ring.push([g.coords[2 * v + 1], g.coords[2 * v]]);
        }
        rings.push(ring);
      }
      polygons.push(rings);
    }
    return polygons.length === 1 ? polygons[0] : polygons;
  }

  // ---- geodesy on the WGS84 ellipsoid (measuring tool) -------------------------------------
  var A = 6378137.0, F = 1 / 298.257223563, B = A * (1 - F), E2 = F * (2 - F), E = Math.sqrt(E2);
  var RAD = Math.PI / 180;

  function authalicQ(sinPhi) {
    var es = E * sinPhi;
    return (1 - E2) * (sinPhi / (1 - es * es) - (1 / (2 * E)) * Math.log((1 - es) / (1 + es)));
  }
  var QP = authalicQ(1);
  var RQ2 = A * A * QP / 2;

  /**
   * Area (m²) of a polygon given as [[lat, lng], ...]. Exact for edges that are straight in
   * the Lambert cylindrical equal-area projection of the authalic sphere (which preserves
   * ellipsoidal area); for the short edges of field polygons that differs from geodesic
   * edges by far less than 1e-4.
   */
  function geodesicArea(points) {
    var n = points.length;
    if (n < 3) return 0;
    var sum = 0;
    for (var i = 0; i < n; i++) {
      var a = points[i], b = points[(i + 1) % n];
      var x1 = a[1] * RAD, y1 = authalicQ(Math.sin(a[0] * RAD)) / QP;
      var x2 = b[1] * RAD, y2 = authalicQ(Math.sin(b[0] * RAD)) / QP;
      var dx = x2 - x1;
      if (dx > Math.PI) dx -= 2 * Math.PI;
      if (dx < -Math.PI) dx += 2 * Math.PI;
      sum += dx * (y1 + y2) / 2;
    }
    return Math.abs(sum) * RQ2;
  }

  /** Geodesic distance (m) between [lat, lng] points: Vincenty's inverse formula. */
  function geodesicDistance(p, q) {
    var lon = (q[1] - p[1]) * RAD;
    var U1 = Math.atan((1 - F) * Math.tan(p[0] * RAD));
    var U2 = Math.atan((1 - F) * Math.tan(q[0] * RAD));
    var sinU1 = Math.sin(U1), cosU1 = Math.cos(U1), sinU2 = Math.sin(U2), cosU2 = Math.cos(U2);
    var lambda = lon, lambdaP, iter = 0;
    var sinSigma, cosSigma, sigma, cosSqAlpha, cos2SigmaM;
    do {
      var sinL = Math.sin(lambda), cosL = Math.cos(lambda);
      sinSigma = Math.sqrt(Math.pow(cosU2 * sinL, 2) +
        Math.pow(cosU1 * sinU2 - sinU1 * cosU2 * cosL, 2));
      if (sinSigma === 0) return 0;
      cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosL;
      sigma = Math.atan2(sinSigma, cosSigma);
      var sinAlpha = cosU1 * cosU2 * sinL / sinSigma;
      cosSqAlpha = 1 - sinAlpha * sinAlpha;
      cos2SigmaM = cosSqAlpha ? cosSigma - 2 * sinU1 * sinU2 / cosSqAlpha : 0;
      var C = F / 16 * cosSqAlpha * (4 + F * (4 - 3 * cosSqAlpha));
      lambdaP = lambda;
      lambda = lon + (1 - C) * F * sinAlpha *
        (sigma + C * sinSigma * (cos2SigmaM + C * cosSigma * (-1 + 2 * cos2SigmaM * cos2SigmaM)));
    } while (Math.abs(lambda - lambdaP) > 1e-12 && ++iter < 200);
    if (iter >= 200) return L.CRS.Earth.distance(L.latLng(p), L.latLng(q));
    var uSq = cosSqAlpha * (A * A - B * B) / (B * B);
    var AA = 1 + uSq / 16384 * (4096 + uSq * (-768 + uSq * (320 - 175 * uSq)));
    var BB = uSq / 1024 * (256 + uSq * (-128 + uSq * (74 - 47 * uSq)));
    var deltaSigma = BB * sinSigma * (cos2SigmaM + BB / 4 * (cosSigma * (-1 + 2 * cos2SigmaM *
      cos2SigmaM) - BB / 6 * cos2SigmaM * (-3 + 4 * sinSigma * sinSigma) *
      (-3 + 4 * cos2SigmaM * cos2SigmaM)));
    return B * AA * (sigma - deltaSigma);
  }

  // ---- formatting --------------------------------------------------------------------------
  function fixed(value, digits) {
    return value.toLocaleString('en-US', {
      minimumFractionDigits: digits, maximumFractionDigits: digits
    });
  }
  /** As landrelease.units.format_area: hectares with the exact m² beside. */
  function formatArea(m2) {
    return fixed(m2 / 10000, 4) + ' ha (' + fixed(m2, 1) + ' m\u00b2)';
  }
  function formatDistance(m) {
    return m < 1000 ? fixed(m, 1) + ' m' : fixed(m / 1000, 3) + ' km';
  }
  function isoDate(days) {
    return new Date(days * 86400000).toISOString().slice(0, 10);
  }

  // ---- DOM helpers: text only ----------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function table(rows) {
    var t = el('table', 'lr-popup-table');
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === '') return;
      var tr = el('tr');
      tr.appendChild(el('th', null, row[0]));
      var td = el('td', null, row[1]);
      if (row[2]) td.setAttribute('data-field', row[2]);
      tr.appendChild(td);
      t.appendChild(tr);
    });
    return t;
  }
  /** Leaflet's layer control and attribution insert names as HTML: give them text only. */
  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function lookup(list, index) {
    return index >= 0 ? list[index] : null;
  }

  // ---- the overview dots ---------------------------------------------------------------------
  var DotsLayer = L.Layer.extend({
    initialize: function (controller) { this._ctl = controller; },
    onAdd: function (map) {
      this._canvas = L.DomUtil.create('canvas', 'lr-dots leaflet-zoom-hide');
      map.getPane('lrDots').appendChild(this._canvas);
      map.on('moveend resize', this.redraw, this);
      this.redraw();
    },
    onRemove: function (map) {
      L.DomUtil.remove(this._canvas);
      map.off('moveend resize', this.redraw, this);
    },
    redraw: function () {
      var map = this._map;
      if (!map) return;
      var ctl = this._ctl, size = map.getSize(), canvas = this._canvas;
      var ratio = window.devicePixelRatio || 1;
      canvas.width = size.x * ratio;
      canvas.height = size.y * ratio;
      canvas.style.width = size.x + 'px';
      canvas.style.height = size.y + 'px';
      L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
      var ctx = canvas.getContext('2d');
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, size.x, size.y);
      this.drawn = 0;
      if (map.getZoom() >= ctl.detailZoom) return;
      var g = ctl.hg, h = ctl.data.hazards, zoom = map.getZoom();
      var origin = map.getPixelOrigin().add(map._getMapPanePos().multiplyBy(-1));
      var classes = ctl.data.lookups.classes;
      for (var c = 0; c < classes.length; c++) {
        if (!map.hasLayer(ctl.classGroups[classes[c]])) continue;
        ctx.fillStyle = ctl.data.styles.dots[classes[c]];
        for (var i = 0; i < g.count; i++) {
          if (h.cls[i] !== c || !ctl.hazardVisible(i)) continue;
          var lat = (g.bbox[4 * i + 1] + g.bbox[4 * i + 3]) / 2;
          var lng = (g.bbox[4 * i] + g.bbox[4 * i + 2]) / 2;
          var pt = map.project([lat, lng], zoom).subtract(origin);
          if (pt.x < -2 || pt.y < -2 || pt.x > size.x + 2 || pt.y > size.y + 2) continue;
          ctx.fillRect(pt.x - 1.5, pt.y - 1.5, 3, 3);
          this.drawn++;
        }
      }
    }
  });

  // ---- the controller ---------------------------------------------------------------------
  function Controller(map, data, legend) {
    var self = this;
    this.map = map;
    this.data = data;
    this.detailZoom = data.detailZoom;
    this.hg = decodeGeometry(data.hazards.geom, data.hazards.ng);
    this.pg = decodeGeometry(data.pieces.geom, data.pieces.n);
    this.byId = {};
    for (var i = 0; i < data.hazards.n; i++) this.byId[data.hazards.id[i].toUpperCase()] = i;
    this.recordedYear = new Int32Array(data.hazards.n);
    for (i = 0; i < data.hazards.n; i++) {
      this.recordedYear[i] = new Date(data.hazards.rec[i] * 86400000).getUTCFullYear();
    }
    this.pieceYear = new Int32Array(data.pieces.n);
    for (i = 0; i < data.pieces.n; i++) {
      this.pieceYear[i] = new Date(data.pieces.d[i] * 86400000).getUTCFullYear();
    }
    this.year = data.years[1];
    this.onlyYear = false;
    this.shown = new Map();

    map.createPane('lrBasemap').style.zIndex = 250;
    map.createPane('lrDots').style.zIndex = 450;
    map.createPane('lrMeasure').style.zIndex = 640;
    map.getPane('lrDots').style.pointerEvents = 'none';
    this.renderer = L.canvas({ padding: 0.3, tolerance: 3 });
    this.classGroups = {};
    this.methodGroups = {};
    data.lookups.classes.forEach(function (name) {
      self.classGroups[name] = L.layerGroup().addTo(map);
    });
    data.lookups.methods.forEach(function (name) {
      self.methodGroups[name] = L.layerGroup().addTo(map);
    });
    var labels = data.labels;
    var named = {};
    data.lookups.classes.forEach(function (name) {
      named[escapeHtml(labels.classes[name])] = self.classGroups[name];
    });
    data.lookups.methods.forEach(function (name) {
      named[escapeHtml(labels.methods[name])] = self.methodGroups[name];
    });
    this.regionGroup = L.layerGroup();
    if (data.regions) {
      this.buildRegions();
      this.regionGroup.addTo(map);
      named['Remaining area per region'] = this.regionGroup;
    }
    this.dots = new DotsLayer(this).addTo(map);
    named['Hazard locations (overview zoom)'] = this.dots;
    if (data.raster) {
      this.raster = L.imageOverlay(data.raster.url, data.raster.bounds, {
        opacity: data.raster.opacity, pane: 'lrBasemap', interactive: false
      }).addTo(map);
      named[escapeHtml('Basemap: ' + data.raster.name)] = this.raster;
    }
    var bases = { 'No basemap': L.layerGroup().addTo(map) };
    if (data.tiles) {
      bases['Online tiles'] = L.tileLayer(data.tiles.url, {
        attribution: escapeHtml(data.tiles.attribution), maxZoom: data.maxZoom
      });
    }
    this.layers = L.control.layers(bases, named, { collapsed: true }).addTo(map);
    this.addLegend(legend);
    this.addYearControl();
    this.addSearch();
    this.measure = new Measure(this);

    map.on('moveend', this.update, this);
    map.on('overlayadd', function (e) {
      if (e.layer === self.regionGroup) self.regionsToBack();
      self.dots.redraw();
    });
    map.on('overlayremove', function () { self.dots.redraw(); });
    map.on('click', this.onMapClick, this);
    map.fitBounds(data.bounds, { padding: [20, 20] });
    this.update();
  }

  Controller.prototype.hazardVisible = function (i) {
    return this.recordedYear[i] <= this.year;
  };

  /** What a piece is in the chosen year: 'released', 'hazardous' (released later) or null. */
  Controller.prototype.pieceState = function (j) {
    var y = this.pieceYear[j];
    if (y <= this.year) {
      if (this.onlyYear && y !== this.year) return null;
      return 'released';
    }
    return this.hazardVisible(this.data.pieces.h[j]) ? 'hazardous' : null;
  };

  Controller.prototype.buildRegions = function () {
    var self = this, r = this.data.regions, st = this.data.styles;
    var g = decodeGeometry(r.geom, r.n);
    this.regionLayers = [];
    for (var i = 0; i < r.n; i++) {
      var fill = r.k[i] < 0 ? st.choroplethZero : st.choropleth[r.k[i]];
      var layer = L.polygon(latLngs(g, i), {
        renderer: this.renderer, color: '#555', weight: 1, fillColor: fill,
        fillOpacity: st.choroplethOpacity, interactive: true
      });
      layer.lrRegion = i;
      layer.on('click', function (e) {
        if (self.measure.active || !this.options.interactive) return;
        self.openPopup(e.latlng, self.regionPopup(this.lrRegion));
      });
      this.regionLayers.push(layer);
      this.regionGroup.addLayer(layer);
    }
  };

  Controller.prototype.regionsToBack = function () {
    (this.regionLayers || []).forEach(function (layer) { layer.bringToBack(); });
  };

  Controller.prototype.styleRegions = function (detail) {
    var opacity = detail ? 0 : this.data.styles.choroplethOpacity;
    (this.regionLayers || []).forEach(function (layer) {
      layer.options.interactive = !detail;
      if (layer.options.fillOpacity !== opacity) layer.setStyle({ fillOpacity: opacity });
    });
  };

  Controller.prototype.hazardStyle = function (i) {
    var s = this.data.styles.classes[this.data.lookups.classes[this.data.hazards.cls[i]]];
    return s;
  };

  Controller.prototype.pieceStyle = function (j, state) {
    var st = this.data.styles, p = this.data.pieces;
    if (state === 'released') return st.methods[this.data.lookups.methods[p.m[j]]];
    var base = st.classes[this.data.lookups.classes[p.cls[j]]];
    return L.extend({}, base, { dashArray: st.laterDash });
  };

  /** Create the polygons in view (at working zoom), drop the others. */
  Controller.prototype.update = function () {
    var map = this.map, detail = map.getZoom() >= this.detailZoom;
    this.styleRegions(detail);
    var wanted = new Map();
    if (detail) {
      var b = map.getBounds().pad(0.2);
      var w = b.getWest(), s = b.getSouth(), e = b.getEast(), n = b.getNorth();
      var hb = this.hg.bbox, pb = this.pg.bbox, i;
      for (i = 0; i < this.hg.count; i++) {
        if (hb[4 * i] > e || hb[4 * i + 2] < w || hb[4 * i + 1] > n || hb[4 * i + 3] < s) continue;
        if (!this.hazardVisible(i)) continue;
        wanted.set('h' + i, 'hazard');
      }
      for (i = 0; i < this.pg.count; i++) {
        if (pb[4 * i] > e || pb[4 * i + 2] < w || pb[4 * i + 1] > n || pb[4 * i + 3] < s) continue;
        var state = this.pieceState(i);
        if (state) wanted.set('p' + i, state);
      }
    }
    var self = this;
    this.shown.forEach(function (entry, key) {
      if (wanted.get(key) !== entry.state) {
        entry.group.removeLayer(entry.layer);
        self.shown.delete(key);
      }
    });
    wanted.forEach(function (state, key) {
      if (!self.shown.has(key)) self.shown.set(key, self.createLayer(key, state));
    });
  };

  Controller.prototype.createLayer = function (key, state) {
    var self = this, index = +key.slice(1), layer, group;
    if (key[0] === 'h') {
      layer = L.polygon(latLngs(this.hg, index),
        L.extend({ renderer: this.renderer }, this.hazardStyle(index)));
      group = this.classGroups[this.data.lookups.classes[this.data.hazards.cls[index]]];
      layer.on('click', function (e) {
        if (!self.measure.active) self.openPopup(e.latlng, self.hazardPopup(index));
      });
    } else {
      layer = L.polygon(latLngs(this.pg, index),
        L.extend({ renderer: this.renderer }, this.pieceStyle(index, state)));
      var p = this.data.pieces;
      group = state === 'released'
        ? this.methodGroups[this.data.lookups.methods[p.m[index]]]
        : this.classGroups[this.data.lookups.classes[p.cls[index]]];
      layer.on('click', function (e) {
        if (!self.measure.active) self.openPopup(e.latlng, self.piecePopup(index, state));
      });
    }
    layer.lrKey = key;
    group.addLayer(layer);
    return { layer: layer, group: group, state: state };
  };

  Controller.prototype.openPopup = function (latlng, content) {
    this.popup = L.popup({ maxWidth: 360, className: 'lr-popup' })
      .setLatLng(latlng).setContent(content).openOn(this.map);
  };

  Controller.prototype.hazardPopup = function (i) {
    var h = this.data.hazards, lk = this.data.lookups;
    var cls = lk.classes[h.cls[i]];
    var box = el('div', 'lr-popup-body');
    box.setAttribute('data-hazard', h.id[i]);
    var title = el('div', 'lr-popup-title');
    title.appendChild(el('span', 'lr-id', h.id[i]));
    if (h.name[i]) title.appendChild(el('span', 'lr-name', h.name[i]));
    box.appendChild(title);
    var last = lk.kinds[h.lk[i]] + ' ' + isoDate(h.ld[i]);
    var activity = lookup(lk.activities, h.la[i]);
    if (activity) last += ' \u00b7 ' + activity;
    var lastOrg = lookup(lk.orgs, h.lo[i]);
    if (lastOrg) last += ' \u00b7 ' + lastOrg;
    var rows = [
      ['Class', this.data.labels.classes[cls], 'class'],
      ['Contamination', lk.contamination[h.cont[i]], 'contamination'],
      ['Remaining area', i < this.hg.count ? formatArea(h.area[i] / 10) : 'none (released)', 'area'],
      ['Last activity', last, 'last'],
      ['Organisation', lookup(lk.orgs, h.org[i]), 'organisation'],
      ['Recorded', isoDate(h.rec[i]), 'recorded']
    ];
    box.appendChild(table(rows));
    return box;
  };

  Controller.prototype.piecePopup = function (j, state) {
    var p = this.data.pieces, h = this.data.hazards, lk = this.data.lookups;
    var i = p.h[j], method = lk.methods[p.m[j]];
    var box = el('div', 'lr-popup-body');
    box.setAttribute('data-piece', String(j));
    var title = el('div', 'lr-popup-title');
    title.appendChild(el('span', 'lr-id', this.data.labels.methods[method]));
    box.appendChild(title);
    if (state !== 'released') {
      box.appendChild(el('div', 'lr-note', 'Hazardous at the end of ' + this.year + '; released later.'));
    }
    box.appendChild(table([
      ['Hazard', h.id[i] + (h.name[i] ? ' \u2013 ' + h.name[i] : ''), 'hazard'],
      ['Class then', this.data.labels.classes[lk.classes[p.cls[j]]], 'class'],
      ['Released area', formatArea(p.area[j] / 10), 'area'],
      ['Date', isoDate(p.d[j]), 'date'],
      ['Activity', lookup(lk.activities, p.act[j]), 'activity'],
      ['Organisation', lookup(lk.orgs, p.org[j]), 'organisation']
    ]));
    return box;
  };

  Controller.prototype.regionPopup = function (i) {
    var r = this.data.regions;
    var box = el('div', 'lr-popup-body');
    var title = el('div', 'lr-popup-title');
    title.appendChild(el('span', 'lr-id', r.name[i]));
    title.appendChild(el('span', 'lr-name', r.code[i]));
    box.appendChild(title);
    box.appendChild(table([
      ['Remaining SHA', formatArea(r.sha[i]), 'sha'],
      ['Remaining CHA', formatArea(r.cha[i]), 'cha'],
      ['Total remaining', formatArea(r.sha[i] + r.cha[i]), 'total'],
      ['Active hazards', String(r.count[i]), 'count']
    ]));
    box.appendChild(el('div', 'lr-note', 'As of ' + this.data.asOf +
      '; each hazard counted once, in the region holding its interior point; overlaps once.'));
    return box;
  };

  /** At overview zoom a click near a hazard's dot zooms to it and opens its popup. */
  Controller.prototype.onMapClick = function (e) {
    if (this.measure.active || this.map.getZoom() >= this.detailZoom) return;
    if (!this.map.hasLayer(this.dots)) return;
    var best = -1, bestDist = 64, g = this.hg, map = this.map;
    var click = map.latLngToContainerPoint(e.latlng);
    for (var i = 0; i < g.count; i++) {
      if (!this.hazardVisible(i)) continue;
      var pt = map.latLngToContainerPoint([(g.bbox[4 * i + 1] + g.bbox[4 * i + 3]) / 2,
        (g.bbox[4 * i] + g.bbox[4 * i + 2]) / 2]);
      var d = pt.distanceTo(click);
      if (d < bestDist) { bestDist = d; best = i; }
    }
    if (best >= 0) this.focusHazard(best);
  };

  /** Zoom to a hazard (at least working zoom) and open its popup. */
  Controller.prototype.focusHazard = function (i) {
    var self = this, g = this.hg, map = this.map;
    if (i >= g.count) {
      this.openPopup(map.getCenter(), this.hazardPopup(i));
      return;
    }
    if (!this.hazardVisible(i)) this.setYear(this.data.years[1], false);
    var bounds = L.latLngBounds([g.bbox[4 * i + 1], g.bbox[4 * i]], [g.bbox[4 * i + 3], g.bbox[4 * i + 2]]);
    var zoom = Math.max(this.detailZoom, Math.min(map.getBoundsZoom(bounds.pad(0.5)), 17));
    map.once('moveend', function () {
      var entry = self.shown.get('h' + i);
      var at = entry ? entry.layer.getCenter() : bounds.getCenter();
      self.openPopup(at, self.hazardPopup(i));
    });
    map.setView(bounds.getCenter(), zoom, { animate: false });
  };

  Controller.prototype.setYear = function (year, onlyYear) {
    this.year = year;
    this.onlyYear = !!onlyYear;
    if (this.yearInput) {
      this.yearInput.value = String(year);
      this.yearLabel.textContent = String(year);
      this.onlyInput.checked = this.onlyYear;
    }
    this.update();
    this.dots.redraw();
    this.summariseYear();
  };

  Controller.prototype.summariseYear = function () {
    if (!this.yearSummary) return;
    var p = this.data.pieces, total = 0, n = 0;
    for (var j = 0; j < p.n; j++) {
      if (this.pieceState(j) === 'released') { total += p.area[j] / 10; n++; }
    }
    this.yearSummary.textContent = (this.onlyYear ? 'Released in ' : 'Released by the end of ') +
      this.year + ': ' + fixed(total / 10000, 1) + ' ha in ' + fixed(n, 0) +
      (n === 1 ? ' release' : ' releases');
  };

  Controller.prototype.addLegend = function (legend) {
    var control = L.control({ position: 'bottomright' });
    var data = this.data;
    control.onAdd = function () {
      var box = L.DomUtil.create('div', 'lr-legend leaflet-control');
      var head = el('div', 'lr-legend-head', data.title);
      head.title = 'Click to fold or unfold the legend';
      head.addEventListener('click', function () { L.DomUtil.hasClass(box, 'lr-folded')
        ? L.DomUtil.removeClass(box, 'lr-folded') : L.DomUtil.addClass(box, 'lr-folded'); });
      box.appendChild(head);
      box.appendChild(el('div', 'lr-legend-sub', 'As of ' + data.asOf));
      if (legend) {
        legend.hidden = false;
        box.appendChild(legend);
      }
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    control.addTo(this.map);
  };

  Controller.prototype.addYearControl = function () {
    var self = this, years = this.data.years;
    var control = L.control({ position: 'bottomleft' });
    control.onAdd = function () {
      var box = L.DomUtil.create('div', 'lr-year leaflet-control');
      var row = el('label', 'lr-year-row');
      row.appendChild(el('span', null, 'Year '));
      self.yearInput = el('input');
      self.yearInput.type = 'range';
      self.yearInput.min = String(years[0]);
      self.yearInput.max = String(years[1]);
      self.yearInput.step = '1';
      self.yearInput.value = String(self.year);
      self.yearInput.setAttribute('aria-label', 'Year');
      row.appendChild(self.yearInput);
      self.yearLabel = el('strong', 'lr-year-value', String(self.year));
      row.appendChild(self.yearLabel);
      box.appendChild(row);
      var only = el('label', 'lr-year-only');
      self.onlyInput = el('input');
      self.onlyInput.type = 'checkbox';
      only.appendChild(self.onlyInput);
      only.appendChild(el('span', null, ' only releases of that year'));
      box.appendChild(only);
      self.yearSummary = el('div', 'lr-year-summary');
      box.appendChild(self.yearSummary);
      box.appendChild(el('div', 'lr-note',
        'Land released after the chosen year is drawn dashed, in its class colour then; ' +
        'hazards recorded later are hidden.'));
      self.yearInput.addEventListener('input', function () {
        self.setYear(+self.yearInput.value, self.onlyInput.checked);
      });
      self.onlyInput.addEventListener('change', function () {
        self.setYear(+self.yearInput.value, self.onlyInput.checked);
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(this.map);
    this.summariseYear();
  };

  Controller.prototype.addSearch = function () {
    var self = this;
    var control = L.control({ position: 'topleft' });
    control.onAdd = function () {
      var box = L.DomUtil.create('form', 'lr-search leaflet-control leaflet-bar');
      var input = el('input');
      input.type = 'search';
      input.placeholder = 'Hazard ID';
      input.setAttribute('aria-label', 'Find a hazard by its ID');
      box.appendChild(input);
      var message = el('div', 'lr-search-message');
      box.appendChild(message);
      box.addEventListener('submit', function (e) {
        e.preventDefault();
        message.textContent = '';
        var i = self.byId[input.value.trim().toUpperCase()];
        if (i === undefined) {
          message.textContent = 'No hazard ' + input.value.trim();
          return;
        }
        self.focusHazard(i);
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(this.map);
  };

  /** Counts for tests and the benchmark: what is drawn now. */
  Controller.prototype.stats = function () {
    var counts = { hazards: 0, pieces: 0, released: 0, laterHazardous: 0 };
    var map = this.map;
    this.shown.forEach(function (entry, key) {
      if (!map.hasLayer(entry.group)) return;
      if (key[0] === 'h') counts.hazards++;
      else {
        counts.pieces++;
        if (entry.state === 'released') counts.released++;
        else counts.laterHazardous++;
      }
    });
    // Independent of our bookkeeping: the layers the canvas renderer actually holds.
    var inRenderer = { hazards: 0, pieces: 0, regions: 0 };
    var layers = this.renderer._layers;
    Object.keys(layers).forEach(function (id) {
      var layer = layers[id];
      if (layer.lrRegion !== undefined) inRenderer.regions++;
      else if (layer.lrKey && layer.lrKey[0] === 'h') inRenderer.hazards++;
      else if (layer.lrKey) inRenderer.pieces++;
    });
    counts.renderer = inRenderer;
    counts.zoom = map.getZoom();
    counts.dots = this.dots.drawn || 0;
    return counts;
  };

  // ---- measuring tool ----------------------------------------------------------------------
  function Measure(ctl) {
    var self = this;
    this.ctl = ctl;
    this.map = ctl.map;
    this.active = false;
    this.points = [];
    this.renderer = L.svg({ pane: 'lrMeasure' });
    this.layer = L.layerGroup().addTo(this.map);
    var control = L.control({ position: 'topleft' });
    control.onAdd = function () {
      var box = L.DomUtil.create('div', 'lr-measure leaflet-control leaflet-bar');
      self.button = el('a', 'lr-measure-button', 'Measure');
      self.button.href = '#';
      self.button.setAttribute('role', 'button');
      self.button.title = 'Measure distance and area: click points, double-click to finish';
      box.appendChild(self.button);
      self.output = el('div', 'lr-measure-output');
      self.output.hidden = true;
      box.appendChild(self.output);
      L.DomEvent.on(self.button, 'click', function (e) {
        L.DomEvent.preventDefault(e);
        if (self.active) self.stop(); else self.start();
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(this.map);
  }
  Measure.prototype.start = function () {
    this.active = true;
    this.points = [];
    this.layer.clearLayers();
    this.map.closePopup();
    this.map.doubleClickZoom.disable();
    L.DomUtil.addClass(this.map.getContainer(), 'lr-measuring');
    this.button.textContent = 'Finish';
    this.output.hidden = false;
    this.output.textContent = 'Click points on the map';
    this.map.on('click', this.add, this);
    this.map.on('dblclick', this.stop, this);
  };
  Measure.prototype.stop = function () {
    this.active = false;
    this.map.off('click', this.add, this);
    this.map.off('dblclick', this.stop, this);
    var map = this.map;
    setTimeout(function () { map.doubleClickZoom.enable(); }, 0);
    L.DomUtil.removeClass(this.map.getContainer(), 'lr-measuring');
    this.button.textContent = 'Measure';
  };
  Measure.prototype.add = function (e) {
    this.points.push([e.latlng.lat, e.latlng.lng]);
    this.show();
  };
  Measure.prototype.show = function () {
    var pts = this.points, length = 0;
    for (var i = 1; i < pts.length; i++) length += geodesicDistance(pts[i - 1], pts[i]);
    this.layer.clearLayers();
    var style = {
      renderer: this.renderer, color: '#1A1A1A', weight: 2, dashArray: '6 4', interactive: false
    };
    if (pts.length >= 3) {
      this.layer.addLayer(L.polygon(pts, L.extend({ fillOpacity: 0.1 }, style)));
    } else if (pts.length === 2) {
      this.layer.addLayer(L.polyline(pts, style));
    }
    this.output.textContent = '';
    this.output.appendChild(el('div', 'lr-measure-distance', 'Distance: ' + formatDistance(length)));
    if (pts.length >= 3) {
      var perimeter = length + geodesicDistance(pts[pts.length - 1], pts[0]);
      this.output.appendChild(el('div', 'lr-measure-area', 'Area: ' + formatArea(geodesicArea(pts))));
      this.output.appendChild(el('div', 'lr-measure-perimeter', 'Perimeter: ' + formatDistance(perimeter)));
    }
  };

  // ---- entry point -------------------------------------------------------------------------
  /** Attribute columns: base64 of gzip'd JSON, inflated by the browser (no network). */
  function inflateColumns(b64) {
    var binary = atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text().then(JSON.parse);
  }

  function init(map, dataElement, legendElement) {
    var data = JSON.parse(dataElement.textContent);
    return inflateColumns(data.columns).then(function (columns) {
      data.hazards = columns.hazards;
      data.pieces = columns.pieces;
      data.pieces.h = new Int32Array(data.pieces.n);
      for (var j = 0, at = 0; j < data.pieces.n; j++) {
        at += data.pieces.hd[j];
        data.pieces.h[j] = at;
      }
      data.regions = columns.regions;
      data.lookups = columns.lookups;
      data.hazards.geom = data.geom.hazards;
      data.pieces.geom = data.geom.pieces;
      if (data.regions) data.regions.geom = data.geom.regions;
      var controller = new Controller(map, data, legendElement);
      window.LandRelease.current = controller;
      window.LandRelease.ready = true;
      if (window.performance && performance.mark) performance.mark('landrelease-ready');
      document.dispatchEvent(new CustomEvent('landrelease:ready'));
      return controller;
    }).catch(function (error) {
      window.LandRelease.error = String(error);
      var notice = L.control({ position: 'topright' });
      notice.onAdd = function () {
        return el('div', 'lr-legend leaflet-control',
          'The map data could not be shown (' + String(error) + '). ' +
          'Open this file in a current Chrome, Edge, Firefox or Safari.');
      };
      notice.addTo(map);
      throw error;
    });
  }

  window.LandRelease = {
    init: init,
    decodeValues: decodeValues,
    decodeGeometry: decodeGeometry,
    formatArea: formatArea,
    geodesic: { area: geodesicArea, distance: geodesicDistance },
    ready: false,
    current: null
  };
})();
