"""Pulls straight from the billing systems' APIs, and the requests that trigger them."""
