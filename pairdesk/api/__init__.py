"""pairdesk/api"""
