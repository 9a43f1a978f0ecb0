import type { LeaseStore } from '../../shared/store/leases.js';

/** One replica's view of shared leases, which `sever` cuts off (its Redis connection is gone): it cannot renew, others take over. */
export function severableLeases(shared: LeaseStore): { leases: LeaseStore; sever(): void } {
  let gone = false;
  return {
    leases: {
      acquire: (...args) => (gone ? Promise.reject(new Error('Connection is closed')) : shared.acquire(...args)),
      release: (...args) => shared.release(...args),
      holder: (...args) => shared.holder(...args),
      acquireAll: (...args) => (gone ? Promise.reject(new Error('Connection is closed')) : shared.acquireAll(...args)),
      releaseAll: (...args) => shared.releaseAll(...args),
    },
    sever: () => {
      gone = true;
    },
  };
}
