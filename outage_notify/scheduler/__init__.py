"""The clock: periodic sweeps over state kept in the database, run by one process per
deployment under a lease (lease.py), recorded in job_runs (runs.py). jobs.py names the sweeps;
background.py runs them with APScheduler inside `serve` and `worker`; `outage-notify run-job`
runs one by hand."""
