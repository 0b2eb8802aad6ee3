"""Call records and device authorizations arrive with issue 3."""
