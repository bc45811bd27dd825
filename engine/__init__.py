"""The escalation engine: a pure function from (ticket, policy, now) to a decision.

Invariants: nothing in this package reads a clock, the network, the file
system or the environment, and nothing logs. Time is always a parameter.
"""
