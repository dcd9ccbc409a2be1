"""`python -m drill rehearse`: the whole incident story offline, against the program provisioned into moto.

A test harness a user may run, kept apart from the drill's steps: an embedded moto server
(moto_server), the program run under provisioning mocks (replica, provision_*), an in-process Lambda
runtime (runtime, lambda_logs), a local API (local_api) and an alarm evaluator (alarms). `command`
wires them and runs the drill's own `run` steps against them.
"""
