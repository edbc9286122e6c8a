"""Reports: indicator figures as tables and charts, written as CSV, XLSX, HTML or text.

``model`` describes a report (tables of typed columns, charts); ``tables`` turns indicator
results into those tables; ``export`` writes them in every format from one description, so a
figure reads the same everywhere; ``build`` assembles the annual and Lausanne Action Plan
reports and the demo's set.
"""
