"""The shop's data: the contract a purchase log must meet, and ingest into the engine.

Holds the canonical columns and row rules (:mod:`.ingest`), consent of customers to be
contacted (:mod:`.consent`) and the demo shop's generator (:mod:`.synth`).
May import :mod:`churn.errors`, :mod:`churn.engines`; nothing from the later stages.
"""
