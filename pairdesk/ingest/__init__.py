"""pairdesk/ingest"""
