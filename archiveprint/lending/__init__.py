"""Lending: borrowers, requests and approvals, check-out and return by scan, overdue slips and the lending register."""
