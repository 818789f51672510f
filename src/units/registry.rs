//! The unit registry pattern, once for every tier: a registration struct
//! (AMPEL name + builder) collected with `inventory`, a sorted list of
//! names, and a build function that suggests a name on a typo.

/// Declares a registry of units implementing `$trait`:
/// `unit_registry!(FilterUnit, BuildFilter, dyn AlertFilter, filter_names, build_filter, "filter");`
#[macro_export]
macro_rules! unit_registry {
    ($reg:ident, $builder:ident, $unit:ty, $names:ident, $build:ident, $what:literal) => {
        #[doc = concat!("Builds a ", $what, " unit from its (unvalidated) config.")]
        pub type $builder = fn(
            &serde_json::Value,
            &$crate::units::UnitContext,
        ) -> Result<Box<$unit>, $crate::config::UnitConfigError>;

        #[doc = concat!("A ", $what, " unit's registration: its AMPEL name and how to build it.")]
        pub struct $reg {
            pub name: &'static str,
            pub build: $builder,
            /// The JSON schema of its config (`ampel units`), from the
            /// config type: `|| schemars::schema_for!(MyConfig)`.
            pub schema: fn() -> schemars::Schema,
        }

        inventory::collect!($reg);

        impl $reg {
            #[doc = concat!("Every registered ", $what, " unit, sorted by name.")]
            pub fn all() -> Vec<&'static $reg> {
                let mut v: Vec<_> = inventory::iter::<$reg>.into_iter().collect();
                v.sort_unstable_by_key(|u| u.name);
                v
            }

            /// Its config's JSON schema.
            pub fn config_schema(&self) -> serde_json::Value {
                (self.schema)().to_value()
            }
        }

        #[doc = concat!("Names of all registered ", $what, " units, sorted.")]
        pub fn $names() -> Vec<&'static str> {
            let mut v: Vec<_> = inventory::iter::<$reg>
                .into_iter()
                .map(|u| u.name)
                .collect();
            v.sort_unstable();
            v
        }

        #[doc = concat!("Builds the ", $what, " unit `name` from its config.")]
        pub fn $build(
            name: &str,
            config: &serde_json::Value,
            ctx: &$crate::units::UnitContext,
        ) -> Result<Box<$unit>, $crate::config::UnitConfigError> {
            match inventory::iter::<$reg>.into_iter().find(|u| u.name == name) {
                Some(u) => (u.build)(config, ctx),
                None => Err($crate::config::UnitConfigError::unknown_unit(
                    name,
                    &$names(),
                )),
            }
        }
    };
}

/// The schema of a unit without a config (tests' units).
pub fn no_config() -> schemars::Schema {
    schemars::json_schema!({"type": "object", "properties": {}})
}
