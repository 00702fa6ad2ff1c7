"""Exchange port (base) and its adapters: paper (simulation), binance (python-binance), matching (fill model)."""
