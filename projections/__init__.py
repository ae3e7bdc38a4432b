"""Pure folds from domain events to view rows, and pure computations over those rows."""
