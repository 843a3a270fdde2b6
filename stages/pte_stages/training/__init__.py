"""The scripts that train the models the project ships (``stages/models``); no stage imports them."""
