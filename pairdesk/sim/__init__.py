"""pairdesk/sim"""
