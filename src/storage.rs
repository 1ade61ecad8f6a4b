//! Image files on disk, one folder per task: `<dir>/<task id>/<role>-<index>.<ext>`. Files
//! are written to a temporary name and renamed, so a crash never leaves half an image that
//! the database points at.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::base::ImageRole;
use crate::base::TaskId;

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    pub fn new(root: impl Into<PathBuf>) -> anyhow::Result<Storage> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create the image folder {}", root.display()))?;
        Ok(Storage { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes one file atomically and returns its path.
    pub async fn write(
        &self,
        task: TaskId,
        role: ImageRole,
        index: u8,
        extension: &str,
        bytes: &[u8],
    ) -> anyhow::Result<PathBuf> {
        let dir = self.root.join(task.to_string());
        tokio::fs::create_dir_all(&dir).await.with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}-{index}.{extension}", role.as_str()));
        let tmp = dir.join(format!(".{}-{index}.{extension}.tmp", role.as_str()));
        tokio::fs::write(&tmp, bytes).await.with_context(|| format!("writing {}", tmp.display()))?;
        tokio::fs::rename(&tmp, &path).await.with_context(|| format!("renaming to {}", path.display()))?;
        Ok(path)
    }

    /// Writes a member's upload before its task exists (the task row then points at it).
    pub async fn write_incoming(&self, index: u8, extension: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
        let dir = self.root.join("incoming");
        tokio::fs::create_dir_all(&dir).await.with_context(|| format!("creating {}", dir.display()))?;
        let stamp = crate::base::now_ms();
        let path = dir.join(format!("{stamp}-{:08x}-{index}.{extension}", fastrand::u32(..)));
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, bytes).await.with_context(|| format!("writing {}", tmp.display()))?;
        tokio::fs::rename(&tmp, &path).await.with_context(|| format!("renaming to {}", path.display()))?;
        Ok(path)
    }

    /// Deletes a member's upload whose task was then not created (refused at a limit).
    pub async fn discard(&self, path: &str) {
        if let Err(e) = tokio::fs::remove_file(path).await {
            tracing::debug!(path, error = %e, "could not delete an upload of a task not created");
        }
    }

    /// Removes a deleted result's file, and its task's folder once that is empty. A file that
    /// is already gone is not an error: deleting twice ends the same way.
    pub async fn remove(&self, path: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing image {path}")),
        }
        if let Some(folder) =
            Path::new(path).parent().filter(|f| f.starts_with(&self.root) && *f != self.root)
        {
            // Fails while other files remain, which is the point.
            let _ = tokio::fs::remove_dir(folder).await;
        }
        Ok(())
    }

    pub async fn read(&self, path: &str) -> anyhow::Result<bytes::Bytes> {
        let data = tokio::fs::read(path).await.with_context(|| format!("reading image {path}"))?;
        Ok(data.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_land_under_the_task_folder_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path().join("images")).unwrap();
        let path = storage.write(42, ImageRole::Grid, 0, "jpg", b"jpeg bytes").await.unwrap();
        assert_eq!(path, dir.path().join("images/42/grid-0.jpg"));
        let back = storage.read(path.to_str().unwrap()).await.unwrap();
        assert_eq!(&back[..], b"jpeg bytes");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("images/42"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind: {leftovers:?}");
    }
}
