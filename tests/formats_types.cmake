# tests/formats_types.cmake — the value types' API (issue 3): compile-time conversions,
# numeric_limits, comparisons, arithmetic, printing, format cards.
lowp_add_test(test_types SOURCES test_types.cpp LABELS quick)
