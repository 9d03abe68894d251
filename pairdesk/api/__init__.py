"""The REST API: FastAPI over ``pairdesk.store`` and ``pairdesk.analytics``, served by uvicorn.

    main.py    builds the app and includes the routers     cli.py     the command line (python api.py)
    deps.py    database, token, symbols, pair parameters   params.py  query / path parameters, time range
    errors.py  one-line JSON errors                        schemas/   the pydantic models, per feature
    routes/    one router per feature                      bars.py, convert.py  shared read helpers

Endpoints (JSON unless noted; the OpenAPI page at /docs documents each one):

    GET    /api/status                      market, source, schema, feed lights per symbol, gaps, counts
    GET    /api/symbols                     symbols with their bar / trade counts and time extent
    GET    /api/ticks/{symbol}              the most recent trades
    GET    /api/prices                      the latest trade price(s) of every symbol or of one
    GET    /api/ohlc/{symbol}               OHLCV bars at a timeframe
    GET    /api/stats/{symbol}              summary statistics of the last N bars
    GET    /api/spread                      hedge ratio, spread, z-score and correlation of a pair
    GET    /api/correlation                 rolling and whole-sample correlation of a pair
    GET    /api/cointegration               ADF, Engle-Granger, half-life (and Johansen, Hurst)
    GET    /api/backtest                    walk-forward z-score backtest: P&L, costs, drawdown, trades
    GET    /api/export/ticks.csv            trades as CSV, streamed page by page
    GET    /api/export/ohlc.csv             bars as CSV, streamed in time chunks
    GET    /api/export/spread.csv           the analytics CLI's CSV, computed once, streamed in pieces
    GET    /api/export/correlation.csv      rolling correlations as CSV, computed once, streamed in pieces
    POST   /api/upload                      import a history CSV (Binance dumps or the simple bar format)
    GET    /api/summary/hourly              stored hourly summaries
    POST   /api/admin/hourly                compute and store hourly summaries (token)
    GET    /api/watchlist                   the symbols the ingestor follows (token)
    PUT    /api/watchlist                   replace them (token)
    GET    /api/alerts                      alert rules
    POST   /api/alerts                      add an alert rule
    DELETE /api/alerts/{rule_id}            delete an alert rule
    GET    /api/alerts/triggered            alert events, newest first

Reads open the database read-only, one short-lived connection per request. The API writes only
alert rules, uploads, hourly summaries and the watchlist, each in one brief transaction through
``store.open_writer`` with the database's own metadata. Errors are ``{"detail": "..."}``:
422 for a bad parameter, 404 for an unknown symbol or rule, 403 / 401 for the token endpoints,
503 when the database is missing or busy.

Symbols follow ``pairdesk.symbols``, feed lights ``pairdesk.health``, watchlists
``pairdesk.watchlist``, alert rules ``pairdesk.alerts.validate_rule``: the dashboard's rules.
"""
