"""Closed-loop campaigns: the contact policy and its ledger, execution, channels, approval, evaluation.

Plain Python, testable without the web server; the web pages sit on top of it.
"""
