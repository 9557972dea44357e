"""The application, one subpackage per job (pipeline, review, delivery, web, cli...).

A few small modules that every job shares stay flat here: settings (config), logs, metrics,
heap, services, state, scheduler and jobs. tests/test_architecture.py keeps imports one way."""
