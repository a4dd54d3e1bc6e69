"""One thin entry point per DVC stage; all paths come from dvc.yaml, all knobs from params.yaml."""
