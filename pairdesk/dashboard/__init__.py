"""The Streamlit dashboard: ``page.main`` lays the page out from its sections.

    page.py            main(): the page, top to bottom
    header.py          which database (--db, $TICKS_DB), title, DEMO label, waiting for the file
    sidebar.py         settings, refresh, the watchlist
    status.py          Connectivity: feed lights (pairdesk.health) and the no-ingestor banner
    live.py            the live fragment: toasts, metrics, Spread / Prices / Correlation / Downloads
    analytics_view.py  the heavy fragment: tests, backtest, matrix, summaries, hourly
    verdicts.py        the tests in plain language (pure)
    alerts_view.py     Alerts: the rules table;  rule_form.py: the rule form;
    alert_history_view.py  the alert history, acknowledging
    import_view.py     Import history (pairdesk.history's parse -> check -> store)
    elements.py        shared drawing helpers: one-line errors, write outcomes, figures
    formatting.py      one formatter per kind of number, time and age
    data.py            the database handle, incremental bars, the live view, heavy analytics
    markers.py         which alert events are marked on the charts (their rule's settings are the page's)
    alerts_data.py     alert rules and history;  downloads.py: the CSV files
    charts.py          figure builders (DataFrame in, plotly figure out)
"""
import os

# One BLAS thread: on 2 cores a multithreaded OpenBLAS made the 2,000-row ADF take up to 2.3 s
# instead of 40 ms (its threads spin against the page's own). OpenBLAS reads this once, when numpy
# is first imported, so it is set before any dashboard module imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
