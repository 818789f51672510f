//! Shared resources handed to units when they are built (never globals).

use crate::catalog::{Catalog, CatalogError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// `NAME=PATH` of a local catalogue, as given on the command line or in a job.
#[derive(Debug, Clone)]
pub struct CatalogSpec {
    pub name: String,
    pub path: PathBuf,
}

impl std::str::FromStr for CatalogSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, path) = s
            .split_once('=')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
            .ok_or_else(|| format!("expected NAME=PATH, got {s:?}"))?;
        Ok(CatalogSpec {
            name: name.to_string(),
            path: path.into(),
        })
    }
}

/// What a unit may use besides its config.
#[derive(Debug, Default, Clone)]
pub struct UnitContext {
    catalogs: HashMap<String, Arc<Catalog>>,
    /// Relative file paths in unit configs are relative to this directory
    /// (the job file's), so configs, and their ids, stay as written.
    base_dir: PathBuf,
    /// Relative output paths (files a T3 unit writes) are relative to this
    /// directory; empty is the working directory.
    output_dir: PathBuf,
}

impl UnitContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads catalogues once; units share them.
    pub fn with_catalogs(mut self, specs: &[CatalogSpec]) -> Result<Self, CatalogError> {
        for s in specs {
            let c = Catalog::load(&s.name, &s.path)?;
            self.catalogs.insert(s.name.clone(), Arc::new(c));
        }
        Ok(self)
    }

    pub fn add_catalog(&mut self, catalog: Catalog) {
        self.catalogs
            .insert(catalog.name.clone(), Arc::new(catalog));
    }

    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = dir.into();
        self
    }

    pub fn with_output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output_dir = dir.into();
        self
    }

    /// An output path from a unit config (a file a unit writes), resolved
    /// against the output directory.
    pub fn resolve_output(&self, p: &std::path::Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.output_dir.join(p)
        }
    }

    /// An input path from a unit config, resolved against the base directory.
    pub fn resolve(&self, p: &std::path::Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn catalog(&self, name: &str) -> Option<Arc<Catalog>> {
        self.catalogs.get(name).cloned()
    }
}
