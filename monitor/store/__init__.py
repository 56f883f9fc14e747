"""Every call kept: the SQLite store (db, with one writer thread; schema; query; full-text
search), recordings (audio). Storage only: reports and the QA API are in monitor.qa."""
