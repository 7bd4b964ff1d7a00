"""The gated federated trainer behind ``flaudit train``.

The gate (:mod:`flaudit.train.gate`) decides from an audit result whether training may start; only then does a
backend (:mod:`flaudit.train.local` or :mod:`flaudit.train.azureml`) touch silo data. torch, opacus and
azure-ai-ml are imported inside the modules that need them, so ``flaudit --help`` and the audit stay light.
"""
