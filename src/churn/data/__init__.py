"""The shop's data: the contract a purchase log must meet, and ingest into the engine.

Holds, in the order data flows: the canonical columns, the source's description and the
row rules (:mod:`.contract`), reading a source's files (:mod:`.sources`), the parse query
(:mod:`.parsing`), the one ingest algorithm over an engine (:mod:`.ingest`), consent of
customers to be contacted (:mod:`.consent`) and the demo shop's generator (:mod:`.synth`).
:mod:`.contract`, :mod:`.sources` and :mod:`.parsing` import :mod:`churn.errors` only (the
engines read them); :mod:`.ingest` imports them and :mod:`churn.engines`; nothing from the
later stages.
"""
