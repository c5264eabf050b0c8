"""How close synthetic ECGs are to real ones: NeuroKit2 features, a realism table, two-sample tests.

See docs/synth.md ("Realism"). Needs the optional ``realism`` extra (NeuroKit2).
"""
