"""Incident drill for the aiops-demo stack: run the fault story end to end and explain what broke.

`python -m drill --help` lists the commands. The investigator (`drill.investigator`) has no CLI code in
it: collectors gather evidence, a ranking step turns evidence into hypotheses, a report renders both.
"""
