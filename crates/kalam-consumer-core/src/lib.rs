//! Sans-I/O core of the KalamDB topic consumer.
