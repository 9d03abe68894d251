"""pairdesk/dashboard"""
