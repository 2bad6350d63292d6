# Loading modules and sourcing files.
use std/retry
use ./helper.ash
source ./settings.ash
