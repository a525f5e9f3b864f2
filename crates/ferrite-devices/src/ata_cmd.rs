//! The ATA command opcodes the channel ([`crate::ata`]) implements.

/// DEVICE RESET (ATAPI).
pub const DEVICE_RESET: u8 = 0x08;
/// RECALIBRATE (0x10..0x1F).
pub const RECALIBRATE: u8 = 0x10;
/// READ SECTORS.
pub const READ_SECTORS: u8 = 0x20;
/// READ SECTORS without retries.
pub const READ_SECTORS_NORETRY: u8 = 0x21;
/// READ SECTORS EXT.
pub const READ_SECTORS_EXT: u8 = 0x24;
/// READ DMA EXT.
pub const READ_DMA_EXT: u8 = 0x25;
/// READ MULTIPLE EXT.
pub const READ_MULTIPLE_EXT: u8 = 0x29;
/// WRITE SECTORS.
pub const WRITE_SECTORS: u8 = 0x30;
/// WRITE SECTORS without retries.
pub const WRITE_SECTORS_NORETRY: u8 = 0x31;
/// WRITE SECTORS EXT.
pub const WRITE_SECTORS_EXT: u8 = 0x34;
/// WRITE DMA EXT.
pub const WRITE_DMA_EXT: u8 = 0x35;
/// WRITE MULTIPLE EXT.
pub const WRITE_MULTIPLE_EXT: u8 = 0x39;
/// READ VERIFY SECTORS.
pub const READ_VERIFY: u8 = 0x40;
/// READ VERIFY SECTORS without retries.
pub const READ_VERIFY_NORETRY: u8 = 0x41;
/// READ VERIFY SECTORS EXT.
pub const READ_VERIFY_EXT: u8 = 0x42;
/// SEEK.
pub const SEEK: u8 = 0x70;
/// EXECUTE DEVICE DIAGNOSTIC.
pub const EXECUTE_DIAGNOSTIC: u8 = 0x90;
/// INITIALIZE DEVICE PARAMETERS.
pub const INITIALIZE_PARAMS: u8 = 0x91;
/// PACKET (ATAPI).
pub const PACKET: u8 = 0xA0;
/// IDENTIFY PACKET DEVICE (ATAPI).
pub const IDENTIFY_PACKET: u8 = 0xA1;
/// READ MULTIPLE.
pub const READ_MULTIPLE: u8 = 0xC4;
/// WRITE MULTIPLE.
pub const WRITE_MULTIPLE: u8 = 0xC5;
/// SET MULTIPLE MODE.
pub const SET_MULTIPLE: u8 = 0xC6;
/// READ DMA.
pub const READ_DMA: u8 = 0xC8;
/// READ DMA without retries.
pub const READ_DMA_NORETRY: u8 = 0xC9;
/// WRITE DMA.
pub const WRITE_DMA: u8 = 0xCA;
/// WRITE DMA without retries.
pub const WRITE_DMA_NORETRY: u8 = 0xCB;
/// CHECK POWER MODE.
pub const CHECK_POWER_MODE: u8 = 0xE5;
/// FLUSH CACHE.
pub const FLUSH_CACHE: u8 = 0xE7;
/// FLUSH CACHE EXT.
pub const FLUSH_CACHE_EXT: u8 = 0xEA;
/// IDENTIFY DEVICE.
pub const IDENTIFY: u8 = 0xEC;
/// SET FEATURES.
pub const SET_FEATURES: u8 = 0xEF;
