"""pairdesk"""
