"""Antechamber's server. app.py composes it; http/ (REST, pages), live/ (the signaling hub and
the SFU), domain/ (the rules), store/ (persistence). See docs/architecture.md, "Layers"."""
