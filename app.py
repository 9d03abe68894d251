"""The dashboard: streamlit run app.py -- --db ticks.db (the page lives in pairdesk.dashboard.page)."""
from pairdesk.dashboard.page import main

main()
