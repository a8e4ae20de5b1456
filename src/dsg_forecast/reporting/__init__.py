"""Reporting: what a finance officer reads and sends on (workbooks, charts, monitoring, HTML)."""
