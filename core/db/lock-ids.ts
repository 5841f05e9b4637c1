// Advisory lock classes: the first int4 of pg_advisory_lock(class, key); 'CH' + a letter keeps them apart from other apps.
export const LockClass = {
  migrate: 0x4348_0001,
  repository: 0x4348_0002,
  maintenance: 0x4348_0003,
  embedded: 0x4348_0004,
  scheduler: 0x4348_0005,
  environment: 0x4348_0006,
  import: 0x4348_0007,
} as const;
export type LockClassName = keyof typeof LockClass;
