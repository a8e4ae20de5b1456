"""Estimation: from the DfE's history to scenario inputs and forecasts."""
