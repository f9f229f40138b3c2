"""What anyone may see without signing in: the public outage map and its open feed.

Counts of customers by area, never a customer: small counts are not published exactly
(privacy.py), an incident known only by its feeders or transformers is drawn as coarse grid
cells round its customers (never their points), and the address search answers yes or no.
"""
