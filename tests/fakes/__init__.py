"""Fakes of the services billfold talks to, served over real HTTP on a free port."""
