"""Figures computed from the ledger: balances, annual tables, Lausanne Action Plan indicators."""
