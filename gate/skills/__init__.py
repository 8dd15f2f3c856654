"""The skills quarantine: store, pipeline steps, startup enforcement."""
