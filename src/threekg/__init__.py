"""threekg: 3KG contrastive pretraining of 12-lead ECG encoders (Gopal et al., ML4H 2021)."""

__version__ = "0.1.0"
