import { packageConfig } from '../tsup.base';

export default packageConfig({ index: 'src/index.ts', vitest: 'src/vitest.ts', infra: 'src/infra/index.ts' });
