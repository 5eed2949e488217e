//! Kyukit printables: the fridge sheet and the wallet card (PNG and PDF), with Japanese text.
