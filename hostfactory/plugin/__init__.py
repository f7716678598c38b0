"""The Host Factory provider plugin: a standard-library client and the five scripts that
Symphony runs. Nothing here imports Django or the service's code: it is copied to, and runs
on, Symphony hosts with a plain python3."""
