"""Plain helpers every app may import (and that import no app): settings from the
environment, the one shape of an API error, and the base class of domain errors."""
