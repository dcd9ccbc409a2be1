"""Where the stack's declared state comes from: `pulumi stack export`, else the program under mocks.

Above the investigator (which compares a declared state with the live one, drill/investigator/declared.py)
and the preflight (whose recording mocks run the program): it uses both, and neither knows of it.
"""
