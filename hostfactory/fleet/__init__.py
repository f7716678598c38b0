"""The fleet: workflows that span templates, requests and machines.

The three apps form a chain, ``templates_app <- requests_app <- machines_app``, each keeping
the rules of its own aggregate; what needs more than one aggregate lives here, and only here:

- ``capacity``: the templates' capacity ledger (reserve, release, sweep, recount);
- ``progress``: an active request's status from its machines, and keeping it in step;
- ``requests``: creating acquire and return requests, ending requests;
- ``machines``: registering machines and applying status reports.

Each invariant that spans items is kept by one atomic write of the repositories (a
conditional UpdateItem on DynamoDB, the store's lock in memory); the functions here order
those writes so that a failure at any point leaves nothing half-done that a reader would
trust (docs/storage-design.md says, write by write, why).
"""
