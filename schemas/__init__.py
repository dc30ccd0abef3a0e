"""Canonical records, store tables, money and derived status.

``schemas`` imports nothing from the other billfold packages: adapters emit the records
defined here, ``sync`` stores them in the tables defined here, the portal reads them.
"""
