//! The configuration port shared by every block, and validation of user-supplied register values.
//!
//! Hardware refuses an invalid write by setting the sticky `CFG_ERROR` bit; software front ends
//! (CLI, config files, the runtime) reject the same values earlier with a [`ConfigError`] naming
//! the register and the allowed range.

use crate::spec;
use thiserror::Error;

/// One cycle of a block's configuration port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CfgPort {
    /// Write enable.
    pub we: bool,
    /// Word address (4 bits; see [`spec`]). Also selects what `cfg_rdata` returns.
    pub addr: u8,
    /// Write data (16 bits).
    pub wdata: u16,
}

impl CfgPort {
    /// A port that only reads `addr` (no write).
    pub fn read(addr: u8) -> Self {
        CfgPort {
            we: false,
            addr,
            wdata: 0,
        }
    }

    /// A write of `wdata` to `addr`.
    pub fn write(addr: u8, wdata: u16) -> Self {
        CfgPort {
            we: true,
            addr,
            wdata,
        }
    }
}

/// A register value outside its allowed range, or an invalid combination of values.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A value does not fit or is not allowed.
    #[error("{register}={value} is out of range: allowed {allowed}")]
    OutOfRange {
        /// Register or parameter name.
        register: &'static str,
        /// The rejected value.
        value: i64,
        /// Human description of the allowed range.
        allowed: &'static str,
    },
}

/// A complete, validated throttle configuration: the values of the throttle's configuration
/// registers (`spec::throttle::config_registers`). The multi-tenant runtime uses it as its
/// register values too (`multitenant::runtime::ThrottleRegs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ThrottleConfig {
    /// `WINDOW` in cycles (0 = off).
    pub window: u16,
    /// `TARGET` beats per window.
    pub target: u16,
    /// `BURST` credit bound in beats.
    pub burst: u16,
}

impl ThrottleConfig {
    /// The throttle switched off (pass-through).
    pub const OFF: ThrottleConfig = ThrottleConfig {
        window: 0,
        target: 0,
        burst: 0,
    };

    /// Validate user-supplied values (any integer width) and build a configuration: each value
    /// must fit its register and the result must pass [`spec::validate`].
    /// `burst` defaults to `target`, as the hardware does when `TARGET` is written.
    pub fn new(window: i64, target: i64, burst: Option<i64>) -> Result<Self, ConfigError> {
        crate::regs::check_throttle(|r, so_far| {
            let allowed = r.field().allowed;
            match r.addr {
                spec::throttle::WINDOW => check_u16(r.name, window, allowed),
                spec::throttle::TARGET => check_u16(r.name, target, allowed),
                _ => burst.map_or(Ok(so_far.target), |b| check_u16(r.name, b, allowed)),
            }
        })
    }

    /// The value of the configuration register at `addr` (None for any other address).
    pub fn get(&self, addr: u8) -> Option<u16> {
        match addr {
            spec::throttle::WINDOW => Some(self.window),
            spec::throttle::TARGET => Some(self.target),
            spec::throttle::BURST => Some(self.burst),
            _ => None,
        }
    }

    /// The configuration with the register at `addr` set to `value` (unchanged for any other
    /// address), without the side effects of a hardware write.
    pub fn with_value(mut self, addr: u8, value: u16) -> Self {
        match addr {
            spec::throttle::WINDOW => self.window = value,
            spec::throttle::TARGET => self.target = value,
            spec::throttle::BURST => self.burst = value,
            _ => {}
        }
        self
    }

    /// The configuration after the hardware accepts a write of `wdata` to `addr` (a `TARGET`
    /// write also sets `BURST`); None when `addr` holds no configuration register.
    pub fn with_write(&self, addr: u8, wdata: u16) -> Option<Self> {
        self.get(addr)?;
        let next = self.with_value(addr, wdata);
        Some(if addr == spec::throttle::TARGET {
            next.with_value(spec::throttle::BURST, wdata)
        } else {
            next
        })
    }

    /// The configuration writes, in an order the hardware accepts from any previous state.
    /// Switching on or between two on settings: `TARGET` (which also sets `BURST`), `BURST`,
    /// then `WINDOW`; a throttle that is already on keeps its credit and window phase (the new
    /// values take effect at the next window end), one that was off starts with
    /// `CREDIT = TARGET`. Switching off: `WINDOW = 0` first, then `TARGET` and `BURST`.
    pub fn writes(&self) -> [CfgPort; 3] {
        let t = CfgPort::write(spec::throttle::TARGET, self.target);
        let b = CfgPort::write(spec::throttle::BURST, self.burst);
        let w = CfgPort::write(spec::throttle::WINDOW, self.window);
        if self.window == 0 {
            [w, t, b]
        } else {
            [t, b, w]
        }
    }

    /// Whether the throttle is on (`WINDOW != 0`).
    pub fn enabled(&self) -> bool {
        self.window != 0
    }

    /// The long-run rate this configuration regulates to, in beats per cycle (infinite when
    /// off).
    pub fn rate(&self) -> f64 {
        if self.enabled() {
            f64::from(self.target) / f64::from(self.window)
        } else {
            f64::INFINITY
        }
    }
}

/// Check that `value` fits a 16-bit register.
pub fn check_u16(
    register: &'static str,
    value: i64,
    allowed: &'static str,
) -> Result<u16, ConfigError> {
    u16::try_from(value).map_err(|_| ConfigError::OutOfRange {
        register,
        value,
        allowed,
    })
}

/// Check an arbiter/SoC port count against [`spec::MIN_PORTS`]..=[`spec::MAX_PORTS`].
pub fn check_ports(ports: i64) -> Result<usize, ConfigError> {
    if (spec::MIN_PORTS as i64..=spec::MAX_PORTS as i64).contains(&ports) {
        Ok(ports as usize)
    } else {
        Err(ConfigError::OutOfRange {
            register: "ports",
            value: ports,
            allowed: "1..=16",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_config_validates_ranges() {
        assert_eq!(
            ThrottleConfig::new(100, 25, None).unwrap(),
            ThrottleConfig {
                window: 100,
                target: 25,
                burst: 25
            }
        );
        let e = ThrottleConfig::new(1, 25, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "WINDOW=1 is out of range: allowed 0 (off) or 2..=65535"
        );
        assert!(ThrottleConfig::new(65536, 1, None).is_err());
        assert!(ThrottleConfig::new(-3, 1, None).is_err());
        assert!(ThrottleConfig::new(100, 0, None).is_err());
        assert!(ThrottleConfig::new(0, 0, None).is_ok());
        assert!(ThrottleConfig::new(100, 70000, None).is_err());
        assert!(ThrottleConfig::new(100, 10, Some(-1)).is_err());
        assert_eq!(
            ThrottleConfig::new(100, 10, Some(7)).unwrap().burst,
            7,
            "explicit burst wins"
        );
    }

    #[test]
    fn ports_range() {
        assert_eq!(check_ports(1).unwrap(), 1);
        assert_eq!(check_ports(16).unwrap(), 16);
        assert_eq!(
            check_ports(0).unwrap_err().to_string(),
            "ports=0 is out of range: allowed 1..=16"
        );
        assert!(check_ports(17).is_err());
    }
}
